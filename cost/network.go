package cost

import (
	"fmt"
	"strings"
)

const keyIPv4 = "vpc.public_ipv4.hour"

func natGateway(e *est) {
	p := e.props()
	conn, _, err := p.str("ConnectivityType")
	if err != nil {
		e.notPriced(err.Error())
		return
	}
	note := ""
	if !strings.EqualFold(conn, "private") {
		if raw, ok := p.m["AllocationId"]; ok {
			if e.mentionsType(raw, "AWS::EC2::EIP") {
				note = "its public IPv4 is priced on the AWS::EC2::EIP"
			} else {
				note = "its Elastic IP is not in these templates, so its public IPv4 is not counted"
			}
		}
	}
	e.hourly("NAT gateway", 1, "vpc.nat_gateway.hour", note)
	e.usageLine("NAT data processed", "vpc.nat_gateway.gb_processed", "")
}

func elasticIP(e *est) {
	note := ""
	if _, ok, _ := e.props().get("PublicIpv4Pool"); ok {
		note = "PublicIpv4Pool set: BYOIP addresses are not charged, priced anyway"
	}
	e.hourly("public IPv4 address (Elastic IP)", 1, keyIPv4, note)
}

func loadBalancer(e *est) {
	p := e.props()
	typ, _, err := p.str("Type")
	if err != nil {
		e.notPriced(err.Error())
		return
	}
	if typ == "" {
		typ = "application"
	}
	switch typ {
	case "application":
		e.hourly("Application Load Balancer", 1, "elb.alb.hour", "")
		e.usageLine("ALB load balancer capacity units", "elb.alb.lcu_hour", "idle minimum counted as 0 LCU")
	case "network":
		e.hourly("Network Load Balancer", 1, "elb.nlb.hour", "")
		e.usageLine("NLB capacity units", "elb.nlb.nlcu_hour", "idle minimum counted as 0 NLCU")
	default:
		e.notPriced(fmt.Sprintf("load balancer Type %q not in the price table", typ))
		return
	}

	scheme, _, err := p.str("Scheme")
	if err != nil {
		e.notPriced("public IPv4 addresses: " + err.Error())
		return
	}
	if scheme == "" {
		scheme = "internet-facing" // the CloudFormation default
	}
	if scheme != "internet-facing" {
		return
	}
	ipType, _, err := p.str("IpAddressType")
	if err != nil {
		e.notPriced("public IPv4 addresses: " + err.Error())
		return
	}
	if ipType == "dualstack-without-public-ipv4" {
		return
	}
	n, fromEIP, err := e.lbPublicIPs(p)
	if err != nil {
		e.notPriced("public IPv4 addresses: " + err.Error())
		return
	}
	note := "internet-facing: one per subnet"
	if fromEIP > 0 {
		note += fmt.Sprintf("; %d subnet(s) use an Elastic IP, priced on the EIP", fromEIP)
	}
	if n > 0 {
		e.hourly("public IPv4 addresses", float64(n), keyIPv4, note)
	}
}

// lbPublicIPs counts the subnets of an internet-facing load balancer, less
// those given an Elastic IP through SubnetMappings[].AllocationId.
func (e *est) lbPublicIPs(p props) (n, fromEIP int, err error) {
	if maps, ok, err := p.list("SubnetMappings"); err != nil {
		return 0, 0, err
	} else if ok && len(maps) > 0 {
		for i, m := range maps {
			mp, _, err := p.asObj(fmt.Sprintf("SubnetMappings[%d]", i), m)
			if err != nil {
				return 0, 0, err
			}
			if _, has := mp.m["AllocationId"]; has {
				fromEIP++
				continue
			}
			n++
		}
		return n, fromEIP, nil
	}
	subnets, ok, err := p.list("Subnets")
	if err != nil {
		return 0, 0, err
	}
	if !ok || len(subnets) == 0 {
		return 0, 0, fmt.Errorf("neither Subnets nor SubnetMappings is set")
	}
	return len(subnets), 0, nil
}

func vpcEndpoint(e *est) {
	p := e.props()
	typ, _, err := p.str("VpcEndpointType")
	if err != nil {
		e.notPriced(err.Error())
		return
	}
	switch typ {
	case "", "Gateway": // Gateway is the CloudFormation default
		e.free()
	case "Interface":
		subnets, ok, err := p.list("SubnetIds")
		if err != nil {
			e.notPriced(err.Error())
			return
		}
		if !ok || len(subnets) == 0 {
			e.notPriced("interface endpoint without SubnetIds: number of AZs unknown")
			return
		}
		e.hourly("interface endpoint ENIs (one per subnet/AZ)", float64(len(subnets)), "vpc.interface_endpoint.az_hour",
			fmt.Sprintf("%d subnet(s)", len(subnets)))
		e.usageLine("endpoint data processed", "vpc.interface_endpoint.gb_processed", "")
	default:
		e.notPriced(fmt.Sprintf("VPC endpoint type %q not in the price table", typ))
	}
}

// mentionsType reports whether a raw property value references (Ref,
// Fn::GetAtt, or an import of an exported Ref) a resource of the given type.
func (e *est) mentionsType(raw any, typ string) bool {
	for id, r := range e.s.Template.Resources {
		if r.Type == typ && refersTo(raw, id) {
			return true
		}
	}
	if v, err := e.w.resolve(e.s, raw, 0); err == nil {
		if ref, ok := v.(resRef); ok {
			if r, ok := ref.resource(); ok && r.Type == typ {
				return true
			}
		}
	}
	return false
}
